"""The data layer: the data contract, reading and validating a mall's files or database,
staging, settings files, folders and pseudonyms. Imports nothing above it."""
