"""The fake OpenAI server behind spec/support/fake_openai.py (its CLI).

    state.py   what every connection shares: the reply queue, the records,
               the config, the counters (one lock)
    reply.py   what a response is made of before it is framed: Body (SSE
               events or lazily generated pieces), Resp, JSON and SSE text
    wire.py    HTTP/1.1 on raw sockets: reading requests, framing replies
               (chunked, gzip, splits), faults on the wire (delays, stalls,
               resets)
    api.py     the API emulation: one function per endpoint, its default
               reply; auth and error bodies worded as the real API words them
    model.py   what the fake model says: text, JSON for a schema, tool calls
    script.py  scripting: reply objects (validated), the queue they wait in,
               matching them to requests, the /_fake/ control API
    server.py  the accept loop and one thread per connection, tying the
               others together

Python 3 standard library only.
"""
