from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Phone system"

    def ready(self) -> None:
        from telephony import signals  # noqa: F401  (connects the membership receivers)
