"""The application shell: the command line, the demo and process wiring, above every stage."""
