"""Deployment tooling: the CloudFormation template, deploy/destroy and package scripts (never shipped to Lambda)."""
