"""Label Studio: conversion (convert.py) and the server client (client.py); no Dagster imports."""
