#!/usr/bin/python3
"""Prints the h2o `paths:` mapping that serves an avatar folder without mruby.

  avatar_paths.py AVATAR_DIR > paths.yaml

h2o has no try_files, so each uid of the folder gets its own path, mapped to the first of
<uid>.png .jpg .jpeg .gif (the nginx contender's order). Everything else goes to `/`: the file of
that name if there is one (file.dir), else the default picture (file.dir declines a missing
file, and the next handler answers). h2o picks the longest matching path.
"""
import json
import os
import sys

ORDER = (".png", ".jpg", ".jpeg", ".gif")


def main():
    folder = os.path.abspath(sys.argv[1])
    files = {}  # uid -> its file name, the earliest extension in ORDER
    for name in sorted(os.listdir(folder)):
        uid, ext = os.path.splitext(name)
        if ext in ORDER and (uid not in files or ORDER.index(ext) < ORDER.index(os.path.splitext(files[uid])[1])):
            files[uid] = name
    # JSON strings are YAML strings: any byte of a name is quoted safely.
    q = json.dumps
    for uid, name in files.items():
        print(f"{q('/' + uid)}:\n  file.file: {q(os.path.join(folder, name))}")
    print(f'"/":\n  - file.dir: {q(folder)}\n  - file.file: {q(os.path.join(folder, "-1.png"))}')


if __name__ == "__main__":
    main()
