#include "textflag.h"

// nsenterEntry is the process entry point (linked with -E main.nsenterEntry). It runs
// before the Go runtime starts any thread, which is the only moment a process may join
// a user namespace (setns refuses multi-threaded callers). For
//
//	berth-runtime exec-init FD
//
// it joins the user namespace open at FD and leaves setns's result in
// main.usernsResult; any other command line goes straight to the Go runtime.
TEXT ·nsenterEntry(SB),NOSPLIT|NOFRAME,$0
	MOVQ	0(SP), AX // argc
	CMPQ	AX, $3
	JLT	done
	MOVQ	16(SP), SI // argv[1] must be "exec-init"
	MOVQ	$0x696e692d63657865, BX // "exec-ini", little-endian
	CMPQ	0(SI), BX
	JNE	done
	CMPB	8(SI), $0x74 // 't'
	JNE	done
	CMPB	9(SI), $0
	JNE	done
	MOVQ	24(SP), SI // argv[2]: the fd, in decimal
	XORQ	DI, DI
	CMPB	0(SI), $0
	JEQ	done
digit:
	MOVBQZX	0(SI), BX
	TESTQ	BX, BX
	JZ	join
	SUBQ	$0x30, BX
	CMPQ	BX, $9
	JHI	done // not a digit
	IMULQ	$10, DI
	ADDQ	BX, DI
	INCQ	SI
	JMP	digit
join:
	MOVQ	$308, AX // setns(fd, CLONE_NEWUSER)
	MOVQ	$0x10000000, SI
	SYSCALL
	MOVQ	AX, ·usernsResult(SB)
done:
	JMP	_rt0_amd64_linux(SB)
