"""The cohort report: findings assembly, funder tables, the disclosure gate, the performance story, the DOCX and the figure zip."""
