CATALOG = ["apple", "banana", "cherry"]


def search(prefix):
    return [p for p in CATALOG if p.startswith(prefix)]
