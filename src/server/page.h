/* page: the HTML page at "/" (pick an image, see it next to its black-and-white version). */
#ifndef PIXD_SERVER_PAGE_H
#define PIXD_SERVER_PAGE_H

#include <stddef.h>

extern const char page_index_html[];
extern const size_t page_index_html_len;

#endif
