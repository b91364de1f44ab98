#!/bin/sh
# Starts Varnish and its file origin in the foreground, both in the caller's process group (the
# runner stops the group).
#   start.sh RUN PORT
set -eu
run=$1 port=$2
mkdir -p "$run/origin"
nginx -p "$run/origin" -c "$run/origin.conf" -e stderr &
# -j none: run as the caller; the unix jail's users could not reach {run}'s work dir and socket.
# One thread pool for the one core; enough threads started for the 100 connections (Varnish
# gives each busy connection a thread; idle ones wait in its epoll waiter); keep-alive idle as
# nginx's 75 s. -T none: no management port.
exec varnishd -F -j none -n "$run/varnish" -T none -a "127.0.0.1:$port" -f "$run/avatars.vcl" \
  -s malloc,64m -p thread_pools=1 -p thread_pool_min=200 -p thread_pool_max=1000 -p timeout_idle=75
