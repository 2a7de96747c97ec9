"""An offline stand-in for the AWS services this project uses, and for Slack.

Start it with ``python -m sandbox serve``; see README, "The sandbox".
"""
