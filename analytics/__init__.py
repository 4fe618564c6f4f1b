"""Attendance and billing counts derived from the analytics event log, exactly and reproducibly."""
