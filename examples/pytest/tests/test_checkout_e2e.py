import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_checkout_flow(cart):
    cart.add("cherry", 300)
    assert cart.total() == 360
