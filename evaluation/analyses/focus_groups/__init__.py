"""TODO focus_groups"""
