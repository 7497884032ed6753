"""SMS gateways: the contract (gateway.py), SMPP 3.4 (smpp/), and the sender loop (sender.py)."""
