"""The agents' call controls over AMI (issue 14), run from the dialer process."""
