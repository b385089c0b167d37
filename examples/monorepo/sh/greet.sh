#!/bin/sh
# Prints a greeting for its argument.
printf 'hello, %s\n' "${1:-world}"
