"""Kafka adapters: the consumer-group source and the dead-letter producer."""
