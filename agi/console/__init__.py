"""The agent's console and supervision through AMI: call controls, three-way calls, listen /
whisper / barge."""
