#include "server/page.h"

/* Self-contained (no external scripts or fonts): it must work on a machine with no network. */
const char page_index_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>pixd: black and white</title>\n"
    "<style>\n"
    "body{font:16px system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}\n"
    "h1{font-size:1.4rem}.pair{display:flex;gap:1rem;flex-wrap:wrap}\n"
    "figure{flex:1 1 20rem;margin:0;border:1px solid #ccc;padding:.5rem;min-height:8rem}\n"
    "figure img{max-width:100%;display:block}figcaption{color:#666;font-size:.9rem}\n"
    "#status{min-height:1.5em}.error{color:#b00}\n"
    "</style></head><body>\n"
    "<h1>pixd &mdash; turn a picture black and white</h1>\n"
    "<p><label>Image: <input type=\"file\" id=\"file\" accept=\"image/*\"></label>\n"
    "<button id=\"send\" disabled>Convert</button></p>\n"
    "<p id=\"status\"></p>\n"
    "<div class=\"pair\">\n"
    "<figure><figcaption>Original</figcaption><img id=\"original\" alt=\"\"></figure>\n"
    "<figure><figcaption>Black and white (POST /magic/multipart)</figcaption>"
    "<img id=\"result\" alt=\"\"></figure>\n"
    "</div>\n"
    "<script>\n"
    "const file=document.getElementById('file'),send=document.getElementById('send'),\n"
    "  status=document.getElementById('status'),orig=document.getElementById('original'),\n"
    "  res=document.getElementById('result');\n"
    "function say(t,err){status.textContent=t;status.className=err?'error':'';}\n"
    "file.addEventListener('change',()=>{const f=file.files[0];send.disabled=!f;\n"
    "  if(f){orig.src=URL.createObjectURL(f);res.removeAttribute('src');say(f.name+' ready');}});\n"
    "send.addEventListener('click',async()=>{const f=file.files[0];if(!f)return;\n"
    "  const form=new FormData();form.append('image',f,f.name);say('converting...');\n"
    "  const t0=performance.now();\n"
    "  try{const r=await fetch('/magic/multipart',{method:'POST',body:form});\n"
    "    if(!r.ok){const e=await r.json().catch(()=>({error:r.statusText}));\n"
    "      say(r.status+': '+e.error,true);return;}\n"
    "    res.src=URL.createObjectURL(await r.blob());\n"
    "    say('done in '+Math.round(performance.now()-t0)+' ms: '+r.headers.get('filename'));\n"
    "  }catch(e){say('request failed: '+e,true);}});\n"
    "</script>\n"
    "</body></html>\n";

const size_t page_index_html_len = sizeof page_index_html - 1;

bool page_handle(req_t *r)
{
    if (!req_path_is(r, "/"))
        return false;
    if (req_get_or_head(r)) {
        static const char h[] = "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-cache\r\n";
        req_respond(r, 200, h, sizeof h - 1, page_index_html, page_index_html_len, NULL, NULL);
    }
    return true;
}
