"""TODO outcomes"""
