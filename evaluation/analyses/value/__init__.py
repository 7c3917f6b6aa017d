"""TODO value"""
