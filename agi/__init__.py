"""Everything that talks to Asterisk: FastAGI server and handlers, AMI client, event
listener, the predictive dialer and the PBX simulator.

Not built yet: the telephony core arrives with issue "3. Telephony core" and the dialer with
"4. Predictive dialer". Nothing here pretends to work until then."""
