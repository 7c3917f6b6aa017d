"""TODO time_to_goal"""
