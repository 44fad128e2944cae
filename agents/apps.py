from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents and breaks"

    def ready(self) -> None:
        from agents import signals  # noqa: F401  (connects the receivers that keep websocket rights current)
