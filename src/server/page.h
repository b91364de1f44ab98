/* page: the HTML page at "/": pick an image, see it next to its black-and-white version; and, with
 * --demo, upload an avatar cropped to a square and see it at three sizes. */
#ifndef PIXD_SERVER_PAGE_H
#define PIXD_SERVER_PAGE_H

#include <stddef.h>

#include "server/req.h"

extern const char page_index_html[];
extern const size_t page_index_html_len;

/* GET/HEAD / (declines any other path). */
bool page_handle(req_t *r);

#endif
