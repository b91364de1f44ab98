/*
 * list: an intrusive, circular, doubly linked list, for LRU orders. A list is a sentinel
 * list_t; .next is the front (the most recent, for an LRU), .prev the back. An element embeds a
 * list_t and is found from it with LIST_ENTRY. No allocation, no locking: the owner of the
 * list orders access.
 */
#ifndef PIXD_CORE_LIST_H
#define PIXD_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct list {
    struct list *prev, *next;
} list_t;

/* The element of type `type` whose member `member` is the link l. */
#define LIST_ENTRY(l, type, member) ((type *)((char *)(l) - offsetof(type, member)))

static inline void list_init(list_t *head)
{
    head->prev = head->next = head;
}

static inline bool list_empty(const list_t *head)
{
    return head->next == head;
}

static inline void list_unlink(list_t *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
}

static inline void list_push_front(list_t *head, list_t *l)
{
    l->next = head->next;
    l->prev = head;
    head->next->prev = l;
    head->next = l;
}

/* Unlinks l and puts it at the front (an LRU's "used now"). */
static inline void list_move_front(list_t *head, list_t *l)
{
    list_unlink(l);
    list_push_front(head, l);
}

#endif
