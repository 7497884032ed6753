"""SMS (T7): segments, templates, sending, receipts and replies, opt-outs, bulk jobs."""
