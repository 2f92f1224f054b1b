#!/bin/sh
exec text-generation-launcher "$@"
