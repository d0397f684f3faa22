"""The foundation every layer stands on: user errors and value checks, atomic files, fault lines,
statistics, terminal tables and plot helpers. Imports nothing else of the project."""
