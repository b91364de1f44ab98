/* router: picks the handler for a complete request. */
#ifndef PIXD_SERVER_ROUTER_H
#define PIXD_SERVER_ROUTER_H

#include "server/server.h"

/* Answers c's request (now, or later after conn_hold()). */
void router_dispatch(conn_t *c);

#endif
