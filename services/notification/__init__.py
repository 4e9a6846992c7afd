"""The notification service: fan-out of what people should hear about to email and chat."""
