"""Kafka-to-AEP connector: stream Kafka records into Adobe Experience Platform's DCS inlet."""

__version__ = "0.1.0"
USER_AGENT = f"aep-kafka-connector/{__version__}"
