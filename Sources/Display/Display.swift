// Display module
