"""TODO overview"""
