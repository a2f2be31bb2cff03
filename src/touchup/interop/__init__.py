"""FHIR, iCalendar, CSV and PDF in and out."""
