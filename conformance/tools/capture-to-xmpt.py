#!/usr/bin/env python3
# Converts a raw capture (core/testdata/captures/*.xml) into a client-role
# transcript: usage: capture-to-xmpt.py CAPTURE OUT SERVER-NAME JID PASSWORD compatible|strict
# (strict: the capture bound with tls-unique; its data is taken from the captured c=).
import re, sys, base64
src, dst, server_name, jid, password, policy = sys.argv[1:7]
lines = open(src).read().split('\n')
segs = []  # (dir, text) ; dir in C,S,TLS
cur = None
for line in lines:
    if line.startswith('<!--'):
        if cur: segs.append(cur); cur = None
        if line.startswith('<!-- C->S'): cur = ['C', []]
        elif line.startswith('<!-- S->C'): cur = ['S', []]
        elif 'TLS established' in line: segs.append(['TLS', []])
    elif cur is not None:
        cur[1].append(line)
if cur: segs.append(cur)
segs = [(d, '\n'.join(t).strip()) for d, t in segs]
SM = [r"<enabled [^>]*/>", r"<r xmlns='urn:xmpp:sm:3'/>", r"<a h='\d+' xmlns='urn:xmpp:sm:3'/>"]
def strip_sm(t):
    for p in SM: t = re.sub(p, '', t)
    return t
out = []
ids = []
bound = False
pushes = []
for d, t in segs:
    if d == 'TLS':
        if policy == 'strict':
            resp = next(t for d2, t in segs if d2 == 'C' and t.startswith('<response'))
            fin = base64.b64decode(re.search(r'>([^<]+)<', resp).group(1)).decode()
            cbind = base64.b64decode(fin[2:].split(',')[0])
            data = cbind[len(b'p=tls-unique,,'):]
            out.append("TLS: tls-unique=" + base64.b64encode(data).decode())
        else:
            out.append("TLS: tls-exporter=" + base64.b64encode(b'E'*32).decode())
        continue
    if d == 'C':
        if re.match(r'<(enable|a|r) xmlns="urn:xmpp:sm:3"', t): continue
        if t.startswith('<stream:stream'):
            t = t.replace("<stream:stream ", "<stream:stream from='{opt}' ", 1)
            out.append('C: ' + t); continue
        if not bound and (t.startswith('<starttls') or t.startswith('<auth') or t.startswith('<response') or (t.startswith('<iq') and '<bind' in t)):
            if t.startswith('<iq'):
                ids.append(re.search(r'id="([^"]+)"', t).group(1)); bound = True
            out.append('C: ' + t); continue
        if t.startswith('<iq type="result"'):
            # The application's answer to a roster push: the harness answers
            # with an empty result.
            pid = re.search(r'id="([^"]+)"', t).group(1)
            out.append("# slixmpp answered with an empty <query/>; the harness's application answers with an empty result.")
            out.append("# (to= the push's sender when it had one: {opt})")
            out.append(f"C: <iq id='{pid}' type='result' to='{{opt}}'/>")
            continue
        if t.startswith('<iq'):
            ids.append(re.search(r'id="([^"]+)"', t).group(1))
        out.append('C+: ' + t)
    else:
        t = strip_sm(t)
        if not t: continue
        out.append('S: ' + t)
        if '<jid>' in t:
            out.append(f"EXPECT: online {jid}/verify")
            continue
        depth = 0
        for m in re.finditer(r"<(/?)([\w:]+)([^>]*?)(/?)>", t):
            close, kind, attrs, empty = m.groups()
            if close:
                depth -= 1
                continue
            if depth == 0:
                typ = re.search(r"type='([^']+)'", attrs)
                idm = re.search(r"id='([^']+)'", attrs)
                if kind == 'iq' and typ and typ.group(1) in ('result', 'error') and idm and idm.group(1) in ids[1:]:
                    out.append(f"EXPECT: iq-response {idm.group(1)}")
                elif kind == 'iq' and typ and typ.group(1) in ('get', 'set'):
                    out.append("EXPECT: stanza iq")
                elif kind in ('message', 'presence'):
                    out.append(f"EXPECT: stanza {kind}")
            if not empty:
                depth += 1
auth = next(t for d, t in segs if d == 'C' and t.startswith('<auth'))
first = base64.b64decode(re.search(r'>([^<]+)<', auth).group(1)).decode()
nonce = first.split('r=')[1]
head = [f"# Real session: slixmpp 1.8.3 and {server_name}, replayed with our client in slixmpp's place",
        f"# source: core/testdata/captures (the raw capture); XEP-0198 elements removed, since our",
        "# client does not enable stream management; our client's headers add from after TLS ({opt}).",
        "@roles: client",
        f"@client.jid: {jid}",
        f"@client.password: {password}",
        "@client.resource: verify",
        "@client.channel-binding: tls-exporter" if policy != 'strict' else "@client.channel-binding: tls-unique\n@client.channel-binding-policy: strict",
        f"@client.ids: {' '.join(ids)}",
        f"@client.nonce: {nonce}",
        ""]
open(dst, 'w').write('\n'.join(head + out) + '\nEXPECT: closed clean\n')
