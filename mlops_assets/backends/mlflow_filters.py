"""Values written into MLflow search filters, which have no escape character."""


def filter_value(value: str) -> str:
    """`value` as a quoted string of an MLflow search filter, which has no escape character:
    quoted with the quote it does not contain.

    Raises:
        ValueError: the value holds both quotes (it cannot be written as one filter string).
    """
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"{value!r:.80} cannot be quoted in an MLflow filter")
