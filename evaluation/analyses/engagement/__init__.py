"""TODO engagement"""
