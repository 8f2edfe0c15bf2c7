"""Real-process test harness: an Apache Kafka broker and an Apicurio schema registry."""
