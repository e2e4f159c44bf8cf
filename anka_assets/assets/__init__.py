"""One module per pipeline stage, each named after the table it makes."""
