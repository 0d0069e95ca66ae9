// Training module
