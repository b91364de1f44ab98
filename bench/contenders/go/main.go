// A Go net/http contender (docs/contenders.md walks through adding it): the avatars of
// bench/contenders/flask's scheme, and /magic/base64 with its own black-and-white conversion.
//
//	app -port P -avatars DIR
//
// GET /<uid> answers the first <uid>.png .jpg .jpeg .gif of DIR, else -1.png, from the file
// (http.ServeContent: Last-Modified, conditional requests; an ETag of mtime and size).
// POST /magic/base64 takes {"filename", "image": <base64 JPEG>} and answers {"filename",
// "encoded_img": <base64 JPEG>}: the image in black and white as Pillow's convert('1') makes it
// (ITU-R 601-2 grey as Pillow computes it, then Floyd-Steinberg error diffusion to 0 or 255), saved as a greyscale JPEG of quality 75 (Pillow's default). Go's JPEG decoder rounds
// differently from libjpeg, so the dots can land elsewhere than Pillow's: the contender declares
// magic = "tolerance".
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

var avatarDir string

// The extensions the original experiment's nginx try_files tried, in the same order.
var exts = []string{".png", ".jpg", ".jpeg", ".gif"}

func avatar(w http.ResponseWriter, r *http.Request) {
	uid := strings.TrimPrefix(r.URL.Path, "/")
	if uid == "" || strings.ContainsAny(uid, "/\\") || strings.HasPrefix(uid, ".") {
		http.NotFound(w, r)
		return
	}
	path := filepath.Join(avatarDir, "-1.png")
	for _, ext := range exts {
		p := filepath.Join(avatarDir, uid+ext)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			path = p
			break
		}
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, `{"error": "no avatar"}`, http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, `{"error": "stat"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=7200")
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, st.ModTime().UnixNano(), st.Size()))
	http.ServeContent(w, r, path, st.ModTime(), f)
}

// blackAndWhite is Pillow's convert('1') of img (its tobilevel): each pixel's grey level
// (299 R + 587 G + 114 B) / 1000 on 8-bit channels, then Floyd-Steinberg left to right on every
// row, with Pillow's integer error bookkeeping (C division truncating toward zero, as Go's).
func blackAndWhite(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	errs := make([]int, w+1)
	for y := 0; y < h; y++ {
		l, l0, l1 := 0, 0, 0
		x := 0
		for ; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			grey := int((299*(r>>8) + 587*(g>>8) + 114*(bl>>8)) / 1000)
			l = clip8(grey + (l+errs[x+1])/16)
			v := 0
			if l > 128 {
				v = 255
			}
			out.Pix[y*out.Stride+x] = uint8(v)
			// Of the error: 7/16 to the right, 3/16 down-left, 5/16 down, 1/16 down-right.
			l -= v
			l2, d2 := l, l+l
			l += d2
			errs[x] = l + l0
			l += d2
			l0 = l + l1
			l1 = l2
			l += d2
		}
		errs[x] = l0
	}
	return out
}

func clip8(v int) int {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return v
}

func magicBase64(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, `{"error": "POST only"}`, http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Filename *string `json:"filename"`
		Image    string  `json:"image"`
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 20<<20)).Decode(&req); err != nil || req.Image == "" {
		http.Error(w, `{"error": "image required"}`, http.StatusBadRequest)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(req.Image)
	if err != nil {
		http.Error(w, `{"error": "bad base64"}`, http.StatusBadRequest)
		return
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		http.Error(w, `{"error": "not an image"}`, http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, blackAndWhite(img), &jpeg.Options{Quality: 75}); err != nil {
		http.Error(w, `{"error": "encode"}`, http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(map[string]interface{}{
		"filename": req.Filename, "encoded_img": base64.StdEncoding.EncodeToString(buf.Bytes())})
}

func main() {
	port := flag.Int("port", 8080, "port on 127.0.0.1")
	flag.StringVar(&avatarDir, "avatars", "avatars", "avatar folder")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/magic/base64", magicBase64)
	mux.HandleFunc("/", avatar)
	log.Fatal(http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), mux))
}
