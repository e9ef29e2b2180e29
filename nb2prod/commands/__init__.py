"""Commands: what a user asks for, one module each: check, convert, verify, doctor.

In: a notebook or a generated project and the user's options. Out: a report or a
project on disk, or a `UserError` naming the cell and the fix. Commands compose the
earlier stages and print nothing: the front ends decide how results look.
"""
