def with_tax(cents, rate=0.2):
    return round(cents * (1 + rate))


def discount(cents, percent):
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return cents - cents * percent // 100
