// People of the verdict benchmark's trees, as they appear in real trailers.

export const SEAN = "Sean Christopherson <seanjc@google.com>";
export const PAOLO = "Paolo Bonzini <pbonzini@redhat.com>";
export const THOMAS = "Thomas Huth <thuth@redhat.com>";
export const MAXIM = "Maxim Levitsky <mlevitsk@redhat.com>";
export const MATHIAS = "Mathias Krause <minipli@grsecurity.net>";
export const CHAO = "Chao Gao <chao.gao@intel.com>";
export const NAVEEN = "Naveen N Rao (AMD) <naveen@kernel.org>";
export const MANALI = "Manali Shukla <manali.shukla@amd.com>";
export const JIM = "Jim Mattson <jmattson@google.com>";
export const GREG = "Greg Kroah-Hartman <gregkh@linuxfoundation.org>";
export const TAO = "Tao Su <tao1.su@linux.intel.com>";
export const VITALY = "Vitaly Kuznetsov <vkuznets@redhat.com>";
export const MICHAL = "Michal Luczaj <mhal@rbox.co>";
export const LINUS = "Linus Torvalds <torvalds@linux-foundation.org>";

export const sob = (person: string) => `Signed-off-by: ${person}`;
