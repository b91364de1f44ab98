/* demo: GET /demo/upload-url?uid=U[&email=E][&crop=x,y,w,h] mints a signed PUT URL valid for
 * ten minutes, for the page's avatar panel, when pixd runs with --demo. In a deployment the
 * web application does this itself with its key (docs/uploads.md); never run --demo where
 * strangers can reach it: anyone could then replace anyone's picture. */
#ifndef PIXD_SERVER_DEMO_H
#define PIXD_SERVER_DEMO_H

#include "server/req.h"

bool demo_handle(req_t *r);

#endif
