"""Readers and batch builders: CoLA and CSV files, pretraining text, MLM masking, NSP pairs."""
