import struct, math
def r(x): return struct.unpack('f', struct.pack('f', x))[0]
def dec(b):
    if b < 24: return b
    i=b-24; bits=i&7; shift=(i>>3)-1
    return 24 + (bits if shift==-1 else (bits|8)<<shift)
def enc(n):
    if n<24: return n
    i=n-24; nb=i.bit_length()
    if nb<4: v=i
    else:
        sh=nb-4; v=((i>>sh)&7)|((sh+1)<<3)
    return 24+v
def score(N, df, dl, sumttf, ndocs_field, tf=1, boost=1.0):
    idf = r(math.log(1 + (N - df + 0.5)/(df + 0.5)))
    avgdl = r(sumttf/ndocs_field)
    L = dec(enc(dl))
    cache = r(1.0/ r(r(1.2)* r(r(1-r(0.75)) + r(r(r(0.75)*L)/avgdl))))
    w = r(r(boost)*idf)
    return r(w - r(w / r(1.0 + r(tf*cache))))
import sys
print('%.9g' % score(1,1,3,3,1))
# corpus: d0 "the quick brown fox" (4), d1 "the lazy dog" (3), d2 "quick quick fox jumps over the dog" (7)
N=3; s=14
print('fox d0 %.9g' % score(3,2,4,s,3,1))
print('fox d2 %.9g' % score(3,2,7,s,3,1))
print('quick d2 %.9g' % score(3,2,7,s,3,2))
print('quick d0 %.9g' % score(3,2,4,s,3,1))
print('dog d1 %.9g' % score(3,2,3,s,3,1))
print('lazy d1 boost2 %.9g' % score(3,1,3,s,3,1,2.0))
print(enc(100), dec(enc(100)), enc(1000), dec(enc(1000)))
