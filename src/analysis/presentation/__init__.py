"""The presentation layer: labels, formats, tables, figures, fonts, languages, the report site and
the glossary. Turns the statistics' numbers and codes into words; imports statistics and data."""
