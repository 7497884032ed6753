"""SMPP 3.4: the PDUs (pdu.py), a transceiver client (client.py) and a small SMSC (server.py)
the tests and the demo run on loopback."""
