"""Which backend a process talks to: RabbitMQ when a broker URL is set, else the embedded file."""

from mlops_assets.queues.base import EventQueue


def choose_queue(
    rabbitmq_url: str | None, sqlite_path: str, prefix: str, connect_attempts: int | None = None
) -> EventQueue:
    """Builds the plain queue object the pipeline's settings select (`definitions.py` does the
    same with the Dagster resources).

    Args:
        rabbitmq_url: the broker (RABBITMQ_URL); None selects the embedded SQLite queue.
        sqlite_path: the embedded queue's file.
        prefix: prefix of every queue name.
        connect_attempts: RabbitMQ only: connection attempts before giving up (default: the
            backend's own).
    """
    if rabbitmq_url:
        from mlops_assets.queues.rabbitmq_queue import RabbitMQQueue

        options = {} if connect_attempts is None else {"connect_attempts": connect_attempts}
        return RabbitMQQueue(rabbitmq_url, prefix=prefix, **options)
    from mlops_assets.queues.sqlite_queue import SqliteQueue

    return SqliteQueue(sqlite_path, prefix=prefix)
